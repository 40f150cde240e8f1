"""`python -m runflow`: the `runflow` command."""

from runflow._cli import main

raise SystemExit(main())
