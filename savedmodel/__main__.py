import sys

from savedmodel.cli.main import main

sys.exit(main())
