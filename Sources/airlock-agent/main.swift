print("airlock-agent")
