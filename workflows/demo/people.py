"""Fictional people for the demo: names of many origins, as in a municipal integration office in NRW, addresses in
invented streets of Kreis Mettmann, and Aktenzeichen in the office's format. Any likeness to real people is chance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

# (first names, family names, nationality as the EBH form records it); a person takes both names from one line
ORIGINS: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    (("Amina", "Yusuf", "Hodan", "Abdirahman", "Faduma"), ("Warsame", "Abdi", "Farah", "Nuur"), "somalisch"),
    (("Olena", "Dmytro", "Iryna", "Taras", "Oksana"), ("Kovalenko", "Shevchuk", "Bondarenko", "Melnyk"), "ukrainisch"),
    (("Mehmet", "Elif", "Zeynep", "Emre", "Aylin"), ("Yılmaz", "Demir", "Aydın", "Kaya"), "türkisch"),
    (("Samira", "Farid", "Mariam", "Omid", "Zahra"), ("Ahmadi", "Rahimi", "Karimi", "Haidari"), "afghanisch"),
    (("Tesfaye", "Selam", "Yonas", "Meron", "Helen"), ("Gebremedhin", "Tesfamariam", "Kidane", "Haile"), "eritreisch"),
    (("Rania", "Khaled", "Lina", "Yousef", "Nour"), ("Haddad", "Al-Masri", "Darwish", "Kassem"), "syrisch"),
    (("Ana", "Marko", "Jelena", "Stefan", "Milica"), ("Petrović", "Jovanović", "Nikolić", "Ilić"), "serbisch"),
    (("Adebayo", "Chiamaka", "Emeka", "Ngozi", "Tunde"), ("Okafor", "Adeyemi", "Eze", "Balogun"), "nigerianisch"),
    (("Ayşe", "Hassan", "Dilan", "Rojda", "Serhat"), ("Şahin", "Aslan", "Doğan", "Özdemir"), "irakisch"),
    (("Nino", "Giorgi", "Tamar", "Levan", "Ketevan"), ("Beridze", "Kapanadze", "Gelashvili", "Lomidze"), "georgisch"),
    (("Fatima", "Youssef", "Salma", "Karim", "Imane"), ("El Amrani", "Benali", "Bouzid", "Idrissi"), "marokkanisch"),
    (("Andrei", "Ioana", "Mihai", "Elena", "Cristian"), ("Popescu", "Ionescu", "Dumitru", "Stan"), "rumänisch"),
    (("Blerta", "Arben", "Drita", "Valon", "Liridona"), ("Krasniqi", "Berisha", "Gashi", "Hoxha"), "kosovarisch"),
    (("Maryam", "Reza", "Shirin", "Arash", "Leila"), ("Hosseini", "Moradi", "Jafari", "Sadeghi"), "iranisch"),
    (("Priya", "Arjun", "Kavya", "Rohan", "Ananya"), ("Sharma", "Nair", "Iyer", "Reddy"), "indisch"),
    (("Aliou", "Fatou", "Moussa", "Aminata", "Ibrahima"), ("Diallo", "Ndiaye", "Sow", "Camara"), "guineisch"),
    (("Luis", "Valentina", "Andrés", "Camila", "Mateo"), ("García", "Rodríguez", "Gómez", "Hernández"),
     "kolumbianisch"),
    (("Dawit", "Tigist", "Abebe", "Hiwot", "Bereket"), ("Tadesse", "Bekele", "Alemu", "Mengistu"), "äthiopisch"),
)
STREETS = ("Lindenstraße", "Am Rathaus", "Bahnhofstraße", "Talstraße", "Hochdahler Weg", "Schulstraße",
           "Gartenstraße", "Mühlenweg", "Kirchplatz", "Am Stadtpark", "Birkenweg", "Düsseldorfer Straße",
           "Neanderstraße", "Friedrichstraße", "Am Sportplatz", "Wiesenweg", "Rosenstraße", "Kaiserstraße")
TOWNS = (("40822", "Mettmann"), ("42549", "Velbert"), ("40878", "Ratingen"), ("40721", "Hilden"),
         ("40699", "Erkrath"), ("42781", "Haan"), ("40764", "Langenfeld"), ("40789", "Monheim am Rhein"),
         ("42489", "Wülfrath"), ("42579", "Heiligenhaus"))


@dataclass(frozen=True)
class Person:
    name: str
    born: date
    address: str
    nationality: str


@dataclass
class Registry:
    """Hands out people and Aktenzeichen, each once, from one seeded random generator."""

    rng: random.Random
    taken: set[str] = field(default_factory=set)
    numbers: dict[str, int] = field(default_factory=dict)

    def person(self, *, age_from: int, age_to: int, today: date) -> Person:
        first, last, nationality = self._names()
        days = self.rng.randint(age_from * 365 + 10, age_to * 365 + 300)
        address = (f"{self.rng.choice(STREETS)} {self.rng.randint(1, 120)}{self.rng.choice(('', '', '', 'a', 'b'))}, "
                   f"{' '.join(self.rng.choice(TOWNS))}")
        return Person(f"{first} {last}", today - timedelta(days=days), address, nationality)

    def _names(self) -> tuple[str, str, str]:
        while True:
            firsts, lasts, nationality = self.rng.choice(ORIGINS)
            first, last = self.rng.choice(firsts), self.rng.choice(lasts)
            if f"{first} {last}" not in self.taken:
                self.taken.add(f"{first} {last}")
                return first, last, nationality

    def aktenzeichen(self, prefix: str, year: int) -> str:
        """The next file number of an office in a year, with the gaps that other files leave."""
        key = f"{prefix}-{year}"
        self.numbers[key] = self.numbers.get(key, self.rng.randint(80, 140)) + self.rng.randint(1, 9)
        return f"{key}-{self.numbers[key]:06d}"
