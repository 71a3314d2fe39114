"""The public gateway: the only CityLink process meant to face the network.

It forwards the citizen channels (`/webhooks/webchat/...`, `/webhooks/wechat/...`)
to the bot, which listens on 127.0.0.1 with its operator API, and nothing
else: `/conversations`, `/model`, the REST channel and every other route of the
Rasa server are not reachable through it. On the way it caps request bodies and
limits requests per client address (gateway/app.py).
"""
