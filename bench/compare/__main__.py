from bench.compare.cli import main

main()
