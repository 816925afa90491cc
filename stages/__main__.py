from ttmbio_stages.cli import main

main()
