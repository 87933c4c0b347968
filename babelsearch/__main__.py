from babelsearch.cli import main

main()
