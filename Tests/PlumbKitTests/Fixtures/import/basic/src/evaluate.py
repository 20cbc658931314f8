# evaluate
