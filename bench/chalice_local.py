"""Run `chalice local` for a benchmark: ``python -m bench.chalice_local PORT DATABASE_URL API_KEY``.

Uses the `local` stage with its database and key replaced, through Chalice's own local server.
"""

import os
import sys

from chalice import local
from chalice.cli import factory

from bench.common import ROOT


def main() -> None:
    port, database_url, api_key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    cli_factory = factory.CLIFactory(str(ROOT))
    config = cli_factory.create_config_obj(chalice_stage_name="local")
    app = cli_factory.load_chalice_app(config.environment_variables)
    # Loading the app applied the stage's variables; this run's database and key replace them.
    os.environ.update(DATABASE_URL=database_url, API_KEY=api_key, LOG_LEVEL="ERROR")
    # Chalice's dev server writes headers and body as separate small segments; with Nagle's algorithm
    # on, every response then waits for the client's delayed ACK. That is the dev server, not the app
    # (API Gateway fronts it in AWS), so the benchmark server sends segments at once.
    local.ChaliceRequestHandler.disable_nagle_algorithm = True
    server = cli_factory.create_local_server(app, config, "127.0.0.1", port)
    server.serve_forever()


if __name__ == "__main__":
    main()
