import Coordinator
Coordinator.main()
