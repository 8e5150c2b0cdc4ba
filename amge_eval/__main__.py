from amge_eval.cli import main

main()
