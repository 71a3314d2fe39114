"""CityLink: a Rasa assistant for Chinese city services."""
