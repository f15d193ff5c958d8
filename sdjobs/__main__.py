from sdjobs.cli.main import run

run()
