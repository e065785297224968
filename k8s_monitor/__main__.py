from k8s_monitor.cli import main

raise SystemExit(main())
