from sdjobs.cli.launch import run

run()
