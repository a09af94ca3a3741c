from nbrepro.cli import main

main()
