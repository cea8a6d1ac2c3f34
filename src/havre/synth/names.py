"""Common French family names, given names and street names for the hospital's patients.

Public-knowledge lists of frequent names; spelled with their accents, apostrophes and spaces
(``N'Diaye``, ``Le Gall``) so that every consumer must handle them.
"""

from __future__ import annotations

# fmt: off
FAMILY_NAMES = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Müller", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier", "Chevalier",
    "François", "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément", "Morin", "Nicolas",
    "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand", "Duval", "Denis", "Dumont",
    "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier", "Brun", "Blanchard", "Giraud",
    "Joly", "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier", "Arnaud", "Martinez", "Gérard",
    "Roche", "Renard", "Schmitt", "Roy", "Leroux", "Colin", "Vidal", "Caron", "Picard", "Roger",
    "Fabre", "Aubert", "Lemoine", "Renaud", "Dumas", "Lacroix", "Olivier", "Philippe", "Bourgeois",
    "Pierre", "Benoît", "Rey", "Leclerc", "Payet", "Rolland", "Guillaume", "Lecomte", "Lopez",
    "Jean", "Dupuy", "Guillot", "Hubert", "Berger", "Carpentier", "Sanchez", "Dupuis", "Moulin",
    "Louis", "Deschamps", "Huet", "Vasseur", "Perez", "Boucher", "Fleury", "Royer", "Klein",
    "Jacquet", "Adam", "Paris", "Poirier", "Marty", "Aubry", "Guyot", "Carré", "Charles",
    "Renault", "Charpentier", "Ménard", "Maillard", "Baron", "Bertin", "Bailly", "Hervé",
    "Schneider", "Fernandez", "Le Gall", "Collet", "Léger", "Bouvier", "Julien", "Prévost",
    "Millet", "Perrot", "Daniel", "Le Roux", "Cousin", "Germain", "Breton", "Besson", "Langlois",
    "Rémy", "Le Goff", "Pelletier", "Lévêque", "Perrier", "Leblanc", "Barré", "Lebrun", "Marchal",
    "Weber", "Mallet", "Hamon", "Boulanger", "Jacob", "Monnier", "Michaud", "Rodriguez",
    "Guichard", "Gillet", "Étienne", "Grondin", "Poulain", "Tessier", "Chevallier", "Collin",
    "Chauvin", "Da Silva", "Bouchet", "Gay", "Lemaître", "Bénard", "Maréchal", "Humbert",
    "Reynaud", "Antoine", "Hoarau", "Perret", "Barthélemy", "Cordier", "Pichon", "Lejeune",
    "Gilbert", "Lamy", "Delaunay", "Pasquier", "Carlier", "Laporte", "N'Diaye", "D'Almeida",
    "Diallo", "Traoré", "Benali", "Nguyen", "Dos Santos", "Ferreira", "Haddad", "Mansour", "Cissé",
    "Kone", "Camara", "L'Hôte", "De La Cruz", "Saint-Martin", "O'Neill",
)

GIVEN_NAMES_MALE = (
    "Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Jacques", "Bernard", "René",
    "Daniel", "Patrick", "Nicolas", "Christophe", "Frédéric", "Laurent", "Stéphane", "Julien",
    "David", "Sébastien", "Thomas", "Antoine", "Maxime", "Alexandre", "Kevin", "Lucas", "Hugo",
    "Louis", "Gabriel", "Léo", "Raphaël", "Arthur", "Jules", "Adam", "Mohamed", "Karim", "Mamadou",
    "Yanis", "Noé", "Théo", "Gaël", "Loïc", "Hervé", "Gérard", "François", "Jean-Pierre",
    "Jean-Claude", "Marc-Antoine", "Éric", "Benoît", "Joël",
)

GIVEN_NAMES_FEMALE = (
    "Marie", "Jeanne", "Françoise", "Monique", "Catherine", "Nathalie", "Isabelle", "Sylvie",
    "Christine", "Martine", "Nicole", "Sophie", "Valérie", "Céline", "Sandrine", "Stéphanie",
    "Aurélie", "Julie", "Camille", "Laura", "Manon", "Emma", "Léa", "Chloé", "Inès", "Jade",
    "Louise", "Alice", "Lina", "Zoé", "Fatima", "Aïcha", "Amina", "Océane", "Anaïs", "Élodie",
    "Hélène", "Geneviève", "Thérèse", "Jocelyne", "Marie-Claude", "Anne-Sophie", "Héloïse",
    "Maëlle", "Noémie", "Léna", "Agnès", "Brigitte", "Mireille", "Gisèle",
)

STREETS = (
    "rue de la République", "rue Victor Hugo", "avenue Jean Jaurès", "rue Pasteur",
    "place de l'Église", "rue du Moulin", "chemin des Vignes", "allée des Tilleuls",
    "boulevard Gambetta", "impasse des Lilas", "rue de l'Hôtel de Ville", "rue Jules Ferry",
    "avenue du Général de Gaulle", "rue des Écoles", "route de la Gare", "rue Émile Zola",
    "rue d'Alsace-Lorraine", "quai de la Loire", "rue Saint-Exupéry", "cours Mirabeau",
)
# fmt: on
