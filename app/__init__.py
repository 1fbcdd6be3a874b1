"""GenScope Qt front end. Only this package touches widgets."""
