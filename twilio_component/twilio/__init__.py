"""The Twilio component: descriptor plugin, client, output mapping, segments and signatures."""
