"""Files written whole or not at all (`atomic`), and input files read with bounds (`readfile`)."""
