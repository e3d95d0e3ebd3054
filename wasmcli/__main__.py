from wasmcli.cli.app import main

main()
