from p2c.cli import main

main()
