"""Research on the confluence score: causal weight fitting (:mod:`confluex.research.fit`)."""
