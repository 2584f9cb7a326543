"""CLI audit fixes (s11/g3): each test failed before its fix (the report's finding number)."""

from .helpers import TUNE_TABLE, refused, small_config, write_config


# -- finding 1: tune.liar was not checked with the rest of [tune] -------------------------------
def test_tune_refuses_a_misspelt_liar_by_its_key_before_making_the_output_folder(
        tmp_path, capsys, no_training):
    table = TUNE_TABLE.replace('method = "random"', 'method = "bayes"\nliar = "beliver"')
    cfg = write_config(tmp_path, small_config() + table)
    out = tmp_path / "out"
    refused(["tune", cfg, "--out", str(out)], capsys, "config key 'tune.liar'", "'beliver'",
            "'believer', 'min', 'mean' or 'max'")
    assert not out.exists()  # refused with the other [tune] keys, before anything is written
