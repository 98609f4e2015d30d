from autogets.cli import main

main()
