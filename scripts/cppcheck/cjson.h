/* cppcheck does not read system headers; this gives it the one cJSON macro
 * the code uses, so it can analyse the loops instead of stopping. */
#define cJSON_ArrayForEach(element, array) \
    for (element = (array != NULL) ? (array)->child : NULL; element != NULL; element = element->next)
