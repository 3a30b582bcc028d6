"""``python -m genai_harness.worker REQUEST.json RESPONSE.json``: the worker's entry point."""

import sys

from genai_harness.worker.main import main

sys.exit(main())
