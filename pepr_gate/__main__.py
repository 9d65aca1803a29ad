from pepr_gate.cli import main

raise SystemExit(main())
