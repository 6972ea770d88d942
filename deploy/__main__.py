"""`python -m lightsage_deploy COMMAND [options]`: the same as `byoc COMMAND [options]`."""

from lightsage_deploy.cli.main import run

if __name__ == "__main__":
    run(program="python -m lightsage_deploy")
