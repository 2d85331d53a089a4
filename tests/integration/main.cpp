#define BOOST_TEST_MODULE tierbox integration tests
#include <boost/test/unit_test.hpp>
