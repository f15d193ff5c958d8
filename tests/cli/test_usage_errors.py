"""Usage errors: exit code 2 and one clear message."""


def test_a_mistyped_subcommand_is_suggested_once(cli):
    proc = cli("jobs", "lss")
    assert proc.returncode == 2
    assert "No such command 'lss'" in proc.stderr
    assert proc.stderr.count("Did you mean 'ls'?") == 1


def test_a_mistyped_command_exits_2(cli):
    proc = cli("cpy", "a", "b")
    assert proc.returncode == 2
    assert proc.stderr.count("Did you mean 'copy'?") == 1
