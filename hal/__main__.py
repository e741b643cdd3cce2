from hal.cli import main

main()
