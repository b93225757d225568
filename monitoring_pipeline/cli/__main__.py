"""`python -m monitoring_pipeline.cli`: the `monitoring-pipeline` command."""

import sys

from monitoring_pipeline.cli import main

sys.exit(main())
