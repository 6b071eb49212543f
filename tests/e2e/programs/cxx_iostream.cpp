// iostreams: formatting manipulators, string streams, std::cin, std::cerr, files via fstream.
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

int main() {
  std::cout << "hello " << 42 << ' ' << 3.5 << ' ' << true << std::boolalpha << ' ' << true << '\n';
  std::cout << std::hex << 255 << ' ' << std::showbase << 255 << std::dec << std::noshowbase << '\n';
  std::cout << std::setw(8) << std::setfill('*') << 17 << '|' << std::left << std::setw(6) << "ab" << "|\n";
  std::cout << std::fixed << std::setprecision(3) << 3.14159 << ' ' << std::scientific << 12345.678 << '\n';
  std::cout.unsetf(std::ios::floatfield);
  std::istringstream in("10 20 thirty 40");
  int a, b;
  in >> a >> b;
  std::string word;
  in >> word;
  std::cout << "parsed " << a + b << " then '" << word << "'\n";
  std::ostringstream out;
  out << "x=" << std::setw(4) << std::setfill('0') << 7;
  std::cout << out.str() << '\n';
  std::map<std::string, int> counts;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream ls(line);
    while (ls >> word) counts[word]++;
  }
  for (auto &[w, n] : counts) std::cout << w << ':' << n << ' ';
  std::cout << std::endl;
  {
    std::ofstream f("iostream.txt");
    f << "line one\n" << 123 << '\n';
  }
  std::ifstream f("iostream.txt");
  std::string first;
  int num = 0;
  std::getline(f, first);
  f >> num;
  std::cout << "file: '" << first << "' " << num << " good " << f.good() << '\n';
  std::ifstream missing("no/such/file");
  std::cout << "missing open: " << missing.is_open() << '\n';
  std::cerr << "to stderr " << 1 << std::endl;
  return 0;
}
