from colorize.cli.app import main

main()
