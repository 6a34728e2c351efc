import sys

from bench.append.run import main

sys.exit(main())
