import sys

from vbench.cli.main import main

sys.exit(main())
