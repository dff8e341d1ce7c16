// AirlockNodeControl
