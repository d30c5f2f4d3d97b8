from . import command

if __name__ == "__main__":  # not when a spawned worker process imports this module again
    command()
