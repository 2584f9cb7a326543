"""What the CLI tests share: writing a config, and checking a refused command line."""

import textwrap

from rosenblatt.cli import main


def write_config(folder, text, name="cfg.toml"):
    """``text`` (dedented) as ``folder/name``; returns the path as a string."""
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def refused(argv, capsys, *expected):
    """main(argv) exits 2 with exactly one line on stderr holding each expected text."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("rosenblatt "), err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err
    return err
