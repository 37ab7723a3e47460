"""What the server and the gateway must agree on: the public error table."""
