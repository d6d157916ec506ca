from snncompile.cli import main

main()
