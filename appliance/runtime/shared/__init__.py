"""State that nodes behind one load balancer share: bans and ended HTTP sessions."""
