#define BOOST_TEST_MODULE tierbox unit tests
#include <boost/test/unit_test.hpp>
