from zerovlm.cli import main

main()
