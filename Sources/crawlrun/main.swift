import Coordinator

Coordinator.main()
