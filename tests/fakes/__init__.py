"""Local stand-ins for the far end of each network service: tests run the real client against them."""
