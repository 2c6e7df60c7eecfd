from keyscope.cli import main

raise SystemExit(main())
