"""Try a transaction: score one typed transaction with the account's real history, store nothing."""
