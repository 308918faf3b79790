from runbridge.cli import main

raise SystemExit(main())
