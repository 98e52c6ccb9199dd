import sys

from gql_support.cli import main

sys.exit(main())
