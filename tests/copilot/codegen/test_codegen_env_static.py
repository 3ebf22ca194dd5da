"""Env ids that name a module are checked without importing that module in the product's process."""

import subprocess
import sys
import textwrap


def test_module_env_ids_are_not_imported_while_checking_a_spec():
    code = textwrap.dedent("""
        import sys
        from copilot.codegen import catalog
        from copilot.codegen.checks import check_action_space
        assert catalog.env_registered("this:CartPole-v1")
        check_action_space("ppo", "this:CartPole-v1")
        assert "this" not in sys.modules
        assert not catalog.env_registered("no_such_module_xyz:Foo-v0")
        print("checked")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "checked"  # the Zen of Python would print if `this` were imported


def test_lr_fields_that_default_to_zero_mean_not_set():
    from copilot.codegen import catalog

    info = catalog.config_info("ddpg")
    assert info["lr"].check(0.0) is None
    assert info["lr"].check(-1e-3) is not None
    assert info["actor_lr"].check(0.0) is not None
