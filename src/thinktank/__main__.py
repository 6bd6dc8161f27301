from thinktank.cli.app import main

main()
