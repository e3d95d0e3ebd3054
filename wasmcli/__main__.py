from wasmcli.cli import main

main()
